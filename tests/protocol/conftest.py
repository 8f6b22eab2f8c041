from __future__ import annotations

import pytest

from protocol.accounts import dev_accounts
from protocol.chainbuilder import ChainBuilder
from protocol.params import devnet_params
from protocol.transactions import Transaction, decode_transaction, sign_transaction


@pytest.fixture(scope="session")
def params():
    return devnet_params()


@pytest.fixture(scope="session")
def accounts():
    return dev_accounts(10)


@pytest.fixture
def chain(params):
    return ChainBuilder(params)


def transfer(params, account, to: bytes, value: int, nonce: int, max_fee: int | None = None,
             **kwargs) -> Transaction:
    raw = sign_transaction(account.private_key, chain_id=params.chain_id, nonce=nonce, to=to,
                           value=value, max_fee_per_gas=max_fee or 2 * params.base_fee_wei,
                           max_priority_fee_per_gas=kwargs.pop("tip", params.base_fee_wei), **kwargs)
    return decode_transaction(raw)
