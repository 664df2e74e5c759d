"""Use cases: the domain's rules applied to the store, one transaction each.

Transports (gateway), alerts and the HTTP API all call these, so a rule such as
first-receiver ownership runs the same whichever way a request arrived.
"""
