"""POST /calls: signatures, nonces, malformed bodies; every refused call changes nothing."""

from __future__ import annotations

from protocol.constants import TOKEN

from ..helpers import ACCOUNTS, amount, call_body, hx


def test_transfer_moves_tokens_and_uses_the_nonce(l1):
    result = l1.call(0, "transfer", to=hx(ACCOUNTS[1].address), amount=amount(5))
    assert result == {}
    sender = l1.get(f"/accounts/{hx(ACCOUNTS[0].address)}")
    receiver = l1.get(f"/accounts/{hx(ACCOUNTS[1].address)}")
    assert int(sender["balance"]) == 999_995 * TOKEN and sender["nonce"] == 1
    assert int(receiver["balance"]) == 1_000_005 * TOKEN
    events = l1.get("/events", kind="Transfer")["events"]
    assert events[-1]["data"]["amount"] == amount(5)


def test_generic_route_accepts_any_method(l1):
    body = l1.body(0, "transfer", {"to": hx(ACCOUNTS[1].address), "amount": "1"})
    response = l1.client.post("/calls", json=body)
    assert response.status_code == 200
    assert response.json()["l1_block"] == l1.contract.head_number


def test_transfer_insufficient_funds(l1):
    l1.reject(9, "transfer", "InsufficientFunds", to=hx(ACCOUNTS[1].address),
              amount=amount(2_000_000))


def test_transfer_from_unfunded_account(l1):
    from protocol.accounts import generated_accounts
    stranger = generated_accounts(1)[0]
    l1.reject(stranger, "transfer", "InsufficientFunds", to=hx(ACCOUNTS[1].address), amount="1")


def test_replayed_call_is_refused(l1):
    body = l1.body(0, "transfer", {"to": hx(ACCOUNTS[1].address), "amount": "1"})
    assert l1.client.post("/calls", json=body).status_code == 200
    l1.reject_body(body, "NonceReplay")


def test_nonce_gap_is_refused(l1):
    l1.reject_body(l1.body(0, "transfer", {"to": hx(ACCOUNTS[1].address), "amount": "1"},
                           nonce=5), "NonceGap")


def test_forged_signature_is_refused(l1):
    # signed by account 1 but claiming to be account 0
    body = call_body(ACCOUNTS[1], l1.params.l1_chain_id, "transfer", 0,
                     {"to": hx(ACCOUNTS[1].address), "amount": "1"})
    body["sender"] = hx(ACCOUNTS[0].address)
    l1.reject_body(body, "InvalidSignature")


def test_tampered_args_are_refused(l1):
    body = l1.body(0, "transfer", {"to": hx(ACCOUNTS[1].address), "amount": "1"})
    body["args"]["amount"] = amount(1000)
    l1.reject_body(body, "InvalidSignature")


def test_signature_for_another_chain_is_refused(l1):
    body = call_body(ACCOUNTS[0], l1.params.l1_chain_id + 1, "transfer", 0,
                     {"to": hx(ACCOUNTS[1].address), "amount": "1"})
    l1.reject_body(body, "InvalidSignature")


def test_malformed_signature_is_refused(l1):
    body = l1.body(0, "transfer", {"to": hx(ACCOUNTS[1].address), "amount": "1"})
    body["signature"] = "0x" + "11" * 65
    l1.reject_body(body, "InvalidSignature")
    body["signature"] = "0x1234"
    l1.reject_body(body, "InvalidEncoding")


def test_unknown_method_is_refused(l1):
    body = l1.body(0, "transfer", {"to": hx(ACCOUNTS[1].address), "amount": "1"})
    body["method"] = "mint"
    l1.reject_body(body, "InvalidEncoding")


def test_route_and_body_method_must_agree(l1):
    body = l1.body(0, "transfer", {"to": hx(ACCOUNTS[1].address), "amount": "1"})
    response = l1.client.post("/calls/deposit", json=body)
    assert response.status_code == 400 and response.json()["error"] == "InvalidCall"


def test_bad_arguments_are_refused(l1):
    to = hx(ACCOUNTS[1].address)
    l1.reject(0, "transfer", "InvalidCall", to=to, amount="-1")
    l1.reject(0, "transfer", "InvalidCall", to=to, amount="1.5")
    l1.reject(0, "transfer", "InvalidCall", to=to, amount="0")
    l1.reject(0, "transfer", "InvalidCall", to="0x1234", amount="1")
    l1.reject(0, "transfer", "InvalidCall", to=to)
    l1.reject(0, "transfer", "InvalidCall", to=to, amount="1", extra="x")
    l1.reject(0, "transfer", "InvalidCall", to=to, amount=["1"])


def test_wrong_types_get_422(l1):
    body = l1.body(0, "transfer", {"to": hx(ACCOUNTS[1].address), "amount": "1"})
    for key, value in (("nonce", "0"), ("args", []), ("sender", 5), ("signature", None)):
        l1.reject_body(dict(body, **{key: value}), "InvalidRequest", status=422)
    l1.reject_body([1, 2], "InvalidRequest", status=422)


def test_not_json_gets_422(l1):
    response = l1.client.post("/calls", content=b"{not json",
                              headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_huge_body_gets_413(l1):
    limit = l1.node.settings.max_body_bytes
    response = l1.client.post("/calls", content=b"x" * (limit + 1),
                              headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == "PayloadTooLarge"


def test_random_bodies_never_yield_500(l1):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20)
        | st.sampled_from(["0x", "0x00", "0x" + "11" * 20, "0x" + "22" * 32, "1e18", "-5"]),
        lambda children: st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=12)
    methods = st.sampled_from(["transfer", "submit_batch", "submit_fraud_proof", "deposit",
                               "force_tx", "claim_withdrawal", "report_verified", "delegate"])

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(method=methods, args=st.dictionaries(
        st.sampled_from(["to", "amount", "blocks", "kind", "evidence", "raw_tx", "proof",
                         "block_hashes", "sequencer", "index", "sender"]), json_values,
        max_size=5), tamper=st.booleans())
    def check(method, args, tamper):
        try:
            body = l1.body(0, method, args)
        except Exception:  # noqa: BLE001 - args that cannot even be signed
            body = {"method": method, "sender": hx(ACCOUNTS[0].address), "nonce": 0,
                    "args": args, "signature": "0x" + "00" * 65}
        if tamper:
            body["signature"] = "0x" + "ab" * 65
        response = l1.client.post("/calls", json=body)
        assert response.status_code < 500, response.text

    check()
