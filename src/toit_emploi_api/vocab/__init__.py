"""The programme's shared vocabulary: stages, roles, statuses, withdrawal reasons, problem types, audit actions.

A leaf layer: these modules import nothing of the application but `core`'s problem-type mechanism, so that every
domain can share them without importing each other.
"""
