"""The course's nbgrader tooling: building lessons and grading a class.

Run ``python -m autograder --help`` from the repository root for the commands.
"""
