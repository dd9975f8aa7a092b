"""Dispatch: the seller's handlers, and the workers that run them after the durable accept.

``router`` matches notifications to handlers and calls them (filters, middlewares, dependencies),
``retry`` decides what a failure leads to, ``worker`` turns stored notifications into jobs and
runs them with leases, lanes and timeouts, ``replay`` puts finished work back in the queue.
"""

from __future__ import annotations
