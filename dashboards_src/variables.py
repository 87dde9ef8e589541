"""The template variables: which scrape job, gateways, model groups and hosts a dashboard shows.
Every dashboard also gets ``datasource`` (style.datasource_variable)."""

from . import queries as q
from .style import query_variable

JOB = query_variable("job", "Job", q.VARIABLE_JOB, default="litellm")
INSTANCE = query_variable("instance", "Gateway", q.VARIABLE_INSTANCE)
MODEL = query_variable("model", "Model group", q.VARIABLE_MODEL)
HOST = query_variable("host", "Host", q.VARIABLE_HOST)

GATEWAY_VARIABLES = [JOB, INSTANCE, MODEL]
