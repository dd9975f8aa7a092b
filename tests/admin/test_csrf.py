"""The CSRF guard's pure decisions."""

from __future__ import annotations

from ymnotify.admin import csrf


def test_only_the_token_of_this_cookie_and_this_key_is_accepted() -> None:
    key, other_key = csrf.new_secret(), csrf.new_secret()
    cookie, other_cookie = csrf.new_cookie(), csrf.new_cookie()
    token = csrf.form_token(key, cookie)
    assert csrf.accepts(key, cookie, token)
    assert not csrf.accepts(key, other_cookie, token)  # another browser's cookie
    assert not csrf.accepts(other_key, cookie, token)  # the process restarted
    assert not csrf.accepts(key, None, token)  # a cross-site POST: no Strict cookie sent
    assert not csrf.accepts(key, cookie, None)
    assert not csrf.accepts(key, cookie, "")
    assert not csrf.accepts(key, cookie, token[:-1] + ("0" if token[-1] != "0" else "1"))
