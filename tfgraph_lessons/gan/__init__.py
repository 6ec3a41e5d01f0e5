"""The GAN chapter's parts: the two networks and their losses (:mod:`.models`), and the
sample-quality measure with a digit classifier (:mod:`.quality`)."""
