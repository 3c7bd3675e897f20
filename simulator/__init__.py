"""A stateful Daraja (M-Pesa) sandbox simulator that sends real HTTP callbacks.

It is an independent second implementation of Daraja's side: it shares nothing with the domain
package ``mpesa`` except the public wire formats (see simulator/README.md).
"""

from simulator.config import SimulatorConfig
from simulator.server import SimulatorServer

__all__ = ["SimulatorConfig", "SimulatorServer"]
