"""Model errors across the activity boundary, both ways.

In the model activity a provider's error becomes an ``ApplicationError`` that says whether
another attempt can help (408, 409, 429 and 5xx can; other statuses, a rejected request, an
exhausted quota cannot) and carries the provider's ``Retry-After`` as the next delay. In the
workflow, once retries are spent, the failure is raised again as Pydantic AI's own error class,
so ``except ModelHTTPError`` in workflow code works as it does outside a workflow.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, NoReturn

from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelHTTPError,
    ModelQuotaExceededError,
    ModelRequestRejectedError,
    ModelRequestTimeout,
)

from ...agents.llm import retry_after
from ...exceptions import ActivityError, ApplicationError

__all__ = ["MODEL_ERROR_TYPE", "NON_RETRYABLE_MODEL_ERRORS", "model_error_to_application_error",
           "rebuilt_model_errors"]

MODEL_ERROR_TYPE = "ModelAPIError"
HTTP_ERROR_TYPE = "ModelHTTPError"

NON_RETRYABLE_MODEL_ERRORS: tuple[type[ModelAPIError], ...] = (
    ModelRequestRejectedError, ModelQuotaExceededError, ModelRequestTimeout)


def _delay(error: ModelAPIError) -> timedelta | None:
    headers = getattr(error, "headers", None)
    delay = retry_after(headers)
    if delay is None and getattr(error, "retry_after", None) is not None:
        delay = timedelta(seconds=max(0.0, float(error.retry_after)))  # type: ignore[arg-type]
    return delay


def _jsonable_body(body: object) -> object:
    return body if isinstance(body, str | int | float | bool | dict | list | type(None)) \
        else str(body)


def model_error_to_application_error(
        error: ModelAPIError, non_retryable: tuple[type[ModelAPIError], ...]) -> NoReturn:
    if isinstance(error, ModelHTTPError):
        status = error.status_code
        retryable = status in (408, 409, 429) or status >= 500
        retryable = retryable and not isinstance(error, non_retryable)
        raise ApplicationError(
            f"{'Retryable' if retryable else 'Non retryable'} model status code {status}: "
            f"{error.message}", status, error.model_name, _jsonable_body(error.body),
            type=HTTP_ERROR_TYPE, non_retryable=not retryable,
            next_retry_delay=_delay(error)) from error
    raise ApplicationError(
        f"{type(error).__name__}: {error.message}", None, error.model_name,
        _jsonable_body(error.body), type=MODEL_ERROR_TYPE,
        non_retryable=isinstance(error, non_retryable), next_retry_delay=_delay(error)) from error


@contextmanager
def rebuilt_model_errors(model_name: str) -> Iterator[None]:
    """In the workflow: a model activity that failed for good raises the model error."""
    try:
        yield
    except ActivityError as error:
        cause: Any = error.cause
        if isinstance(cause, ApplicationError) and cause.type in (HTTP_ERROR_TYPE,
                                                                   MODEL_ERROR_TYPE):
            details = [*cause.details, None, None, None]
            status, name, body = details[0], details[1] or model_name, details[2]
            if cause.type == HTTP_ERROR_TYPE and isinstance(status, int):
                raise ModelHTTPError(status, name, body) from error
            raise ModelAPIError(name, cause.message) from error
        raise
