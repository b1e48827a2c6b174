from django import template

from wallet.models import Account, Transfer
from wallet.selectors import TransferLine, describe_transfer

register = template.Library()


@register.simple_tag
def transfer_line(transfer: Transfer, account: Account) -> TransferLine:
    return describe_transfer(transfer, account)
