"""Task of the prompt flow (statemachines/prompt_flow.asl.json): send a prompt that waits for the customer
(Vodacom's OpenAPI C2B single stage) at most once per record, and settle the record from its answer.

Input {"transaction_id"} → {"settled", "status"}. `settled` false means the outcome is not known yet
(INS-9, a timeout, a 5xx, or a send claimed before by a retry or a re-run): the flow queries by our
ThirdPartyConversationID, never prompts again. The call waits for the customer, so this function has
minutes (template.yaml), not API Gateway's 30 s.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mpesa import runtime
from mpesa.clock import Deadline
from mpesa.edge.observability import lambda_entry


class PromptInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    transaction_id: str = Field(pattern=r"^[0-9a-f]{32}$")


@lambda_entry()
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    task = PromptInput.model_validate(event)
    deadline = Deadline.from_remaining_ms(context.get_remaining_time_in_millis, reserve_s=5)
    step = runtime.stk_payments().run_prompt(task.transaction_id, deadline=deadline)
    return {"settled": step.settled, "status": step.status.value}
