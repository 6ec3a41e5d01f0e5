"""``python -m tfgraph_lessons.preprocessing``: chapter 2's lesson (:mod:`.lesson`)."""
from tfgraph_lessons.preprocessing.lesson import main

if __name__ == "__main__":
    main()
