"""The registry's logic: who and what is where, who may see it, and what each gateway
must be told. Functions take a Session (the caller owns the transaction) and plain
values; HTTP lives in ``fleet.api``."""
