"""The clinic-scoped admin: how clinicians list, open and record patients, presentations, visits and treatments.

Who may see and change what comes from the user's role in each clinic (``cases.selectors``), not from
Django's per-model permissions: podiatrists and clinic admins write, reviewers read, and only
superusers delete clinical records (patients are archived instead). Every queryset and every
foreign-key choice is scoped to the user's clinics, so another clinic's record is "not found",
never shown. Saves are validated by the models' ``full_clean()`` (ranges, cross-field rules and the
treatment ladder), plus ``cases.forms`` for rows added together in one submission.

Every page that shows patient data records an audit event (``cases.audit``): a changelist the ids of
the patients on the page, a change page or history page a view, a save a create or update (in the
change view's transaction). Each record's change history (django-simple-history) is one click from its
page; the audit trail itself is browsed read-only by clinic admins, and a patient's access report is
linked from the patient's page.

One module per concern: ``permissions`` (roles and choices), ``writes`` (the base admin, through the
services), ``records`` (patients, presentations, visits, treatments), ``filters``, ``review`` (the
progression review page), ``staff`` (clinics and memberships), ``accounts`` (staff accounts), ``audit``
(the trail, read-only), ``followups`` (follow-ups, their actions, the overdue list and the completion
table), and the clinicians' workspace: ``summary`` (case summary and one-screen visit), ``worklist`` and
``dashboard``. Importing this package registers them all with the admin site.
"""

from . import accounts, audit, followups, records, staff  # noqa: F401  (each registers its ModelAdmins)
