"""CKV_MPESA_1: every Lambda function logs to a log group that the template defines.

Without it Lambda creates /aws/lambda/<function name> on first use, with no retention: logs are kept
(and billed) forever. With `LoggingConfig: {LogGroup: !Ref SomeLogGroup}`, checkov's own CKV_AWS_66
makes sure that group has a retention. A function added without one fails `make iac`.
"""

from typing import Any

from checkov.cloudformation.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult

CHECK_ID = "CKV_MPESA_1"


class LambdaLogsToTemplateLogGroup(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure the Lambda function logs to a log group of the template (LoggingConfig.LogGroup: !Ref ...)",
            id=CHECK_ID,
            categories=[CheckCategories.LOGGING],
            supported_resources=["AWS::Lambda::Function"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        logging_config = (conf.get("Properties") or {}).get("LoggingConfig") or {}
        group = logging_config.get("LogGroup") if isinstance(logging_config, dict) else None
        if isinstance(group, dict) and "Ref" in group:
            return CheckResult.PASSED
        return CheckResult.FAILED


check = LambdaLogsToTemplateLogGroup()
