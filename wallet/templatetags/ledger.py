from django import template

from wallet.auditing import latest_audit
from wallet.models import Account, LedgerAudit, Transfer
from wallet.selectors import TransferLine, describe_transfer

register = template.Library()


@register.simple_tag
def transfer_line(transfer: Transfer, account: Account) -> TransferLine:
    return describe_transfer(transfer, account)


@register.simple_tag
def latest_ledger_audit() -> LedgerAudit | None:
    return latest_audit()
