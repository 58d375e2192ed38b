"""Gate 3: is this machine able to run the plan's training?"""
