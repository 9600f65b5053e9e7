"""Outcome tracking over time: follow-ups planned from a presentation's treatments and answered by the patient.

``schedule`` plans (pure), ``transitions`` holds the one table of status moves, ``links`` the patient's
one-time links, ``scoring`` MOxFQ, ``messaging`` email and the SMS interface, ``sending`` the batch run
of ``manage.py send_follow_ups``, ``reports`` completion rates and outcomes against the MCID. Every write
goes through ``cases.services`` (``follow_up_*``). See docs/follow-ups.md.
"""
