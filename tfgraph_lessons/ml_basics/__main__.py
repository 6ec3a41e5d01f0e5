"""``python -m tfgraph_lessons.ml_basics``: chapter 1's comparison (:mod:`.lesson`)."""
from tfgraph_lessons.ml_basics.lesson import main

if __name__ == "__main__":
    main()
