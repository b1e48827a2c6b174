from django import template

from wallet.models import Account, Transfer

register = template.Library()


@register.simple_tag
def transfer_line(transfer: Transfer, account: Account) -> dict:
    """A transfer as the player reads it: what happened, and the signed change."""
    incoming = transfer.to_account_id == account.pk
    round_number = transfer.round.number if transfer.round_id else None
    match transfer.kind:
        case Transfer.Kind.MESSAGE_FEE:
            what = f"Message in round {round_number}"
        case Transfer.Kind.POT_WIN:
            what = f"Won the pot of round {round_number}"
        case Transfer.Kind.POT_REFUND:
            what = f"Refund: round {round_number} was reset by the operators"
        case Transfer.Kind.SIGNUP_GRANT:
            what = "Welcome credits"
        case Transfer.Kind.DAILY_CLAIM:
            what = "Daily claim"
        case Transfer.Kind.ADMIN_GRANT:
            what = "Gift from the operators"
        case _:
            what = transfer.get_kind_display()
    return {
        "what": what,
        "memo": transfer.memo if transfer.kind == Transfer.Kind.ADMIN_GRANT else "",
        "change": transfer.amount if incoming else -transfer.amount,
    }
