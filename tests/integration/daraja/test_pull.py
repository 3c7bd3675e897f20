"""Pull Transactions against the simulator: registration, a window's transactions (including payments
whose callbacks were dropped), offset pagination, and the empty answers."""

from datetime import timedelta

from mpesa.clock import now_utc

PATIENT = ("254712345678", "254798765432", "254700000001")


def pay(client, receiver, simulator, msisdn, amount):
    accepted = client.stk_push(
        phone_number=msisdn,
        amount=amount,
        account_reference="ORDER1",
        transaction_desc="Test",
        callback_url=receiver.url + "/v1/hooks/stk",
    )
    return simulator.accept(accepted.checkout_request_id)["receipt"]


def test_registering_twice_keeps_the_first_registration(client, receiver):
    first = client.pull.register(nominated_number="0712345678", callback_url=receiver.url + "/v1/hooks/pull")
    again = client.pull.register(nominated_number="0712345678", callback_url=receiver.url + "/v1/hooks/pull")
    assert (first.response_status, first.registered) == ("1000", True)
    assert (again.response_status, again.registered) == ("1001", True)


def test_a_window_lists_completed_payments_even_when_their_callbacks_were_dropped(client, receiver, simulator):
    client.pull.register(nominated_number="0712345678", callback_url=receiver.url + "/v1/hooks/pull")
    simulator.configure(callback_mode="drop", pull_page_size=2)
    start = now_utc() - timedelta(minutes=1)
    receipts = [pay(client, receiver, simulator, msisdn, 10 + n) for n, msisdn in enumerate(PATIENT)]
    found = list(client.pull.window(start, now_utc() + timedelta(minutes=1)))
    assert [t.transaction_id for t in found] == receipts  # oldest first, across two pages
    assert [t.amount for t in found] == [10, 11, 12]
    assert all(t.bill_reference == "ORDER1" for t in found)
    assert all("*" in t.msisdn for t in found)  # masked by M-Pesa: never a key
    assert len(simulator.requests("/pulltransactions/v1/query")) == 3  # 2 + 1 + the empty page


def test_an_empty_window_is_an_empty_list(client, receiver, simulator):
    client.pull.register(nominated_number="0712345678", callback_url=receiver.url + "/v1/hooks/pull")
    pay(client, receiver, simulator, PATIENT[0], 10)
    later = now_utc() + timedelta(hours=1)
    assert list(client.pull.window(later, later + timedelta(hours=1))) == []


def test_a_registered_shortcode_with_no_transactions_at_all_is_an_empty_list(client, receiver):
    client.pull.register(nominated_number="0712345678", callback_url=receiver.url + "/v1/hooks/pull")
    assert client.pull.query(now_utc() - timedelta(hours=1), now_utc()) == []
