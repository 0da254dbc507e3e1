"""tsys-notifier-email: send the daily newsletter over SMTP (plain, STARTTLS or implicit TLS).

Import-light on purpose: the notifier class is imported only when the registry asks for it.
"""

from tsys.api import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_notifiers(register):
    from tsys_notifier_email.notifier import EmailNotifier

    register(EmailNotifier)
