"""A research agent: plan, search, summarise, write a report; survives its worker dying.

Run ``python -m examples.research_agent.demo`` (or ``scripts/demo``) to watch it being killed
and resumed.
"""
