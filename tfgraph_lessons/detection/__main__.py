"""``python -m tfgraph_lessons.detection``: the detection chapter's lesson (:mod:`.lesson`)."""
from tfgraph_lessons.detection.lesson import main

if __name__ == "__main__":
    main()
