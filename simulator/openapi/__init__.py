"""Vodacom M-Pesa OpenAPI (market vodacomTZN), a second protocol of the simulator.

An independent implementation of Vodacom's side, written from the protocol notes in peers.md and
public clients (simulator/README.md, "Vodacom M-Pesa OpenAPI"). It shares the simulator's control
API, scheduler, request journal, fault queue and virtual phone, and nothing with the ``mpesa``
package. Modules: ``codes`` (INS-* codes, the error shape) · ``keys`` (RSA, bearers) · ``sessions``
· ``ids`` · ``sandbox`` (test numbers) · ``validation`` · ``state`` (transactions, balance, call
journal) · ``service`` (the operations) · ``routes`` (public paths, status faults) · ``control``.
"""
