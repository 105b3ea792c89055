"""Which FOCUS rows are LLM model spend, and which costline provider each belongs to.

One CASE, in one place (docs/SOURCES.md "FOCUS exports" shows it as a table). A row is kept
when it maps to a provider; every other row of the export (compute, storage, other AI
services such as speech or vision) is not LLM spend and is not loaded.

- aws.bedrock: AWS rows of `Amazon Bedrock` itself (first-party models: Nova, Titan, Llama,
  Mistral ...; `x_ServiceCode` AmazonBedrock*) and the Marketplace products Bedrock bills for
  third-party models, whose ServiceName is the product: `Claude 3.5 Sonnet v2 (Amazon Bedrock
  Edition)` with PublisherName Anthropic. A filter on ServiceName = 'Amazon Bedrock' alone
  misses all Claude spend.
- gcp.vertex_ai: Google Cloud rows of `Vertex AI` (Gemini and the partner models of Model
  Garden, which Google bills under Vertex AI SKUs such as `Claude 3.5 Sonnet Input Tokens`) and
  of the `Gemini API` (Generative Language API) billed to a project.
- azure.ai.openai: Microsoft rows of Azure OpenAI: ServiceName `Azure OpenAI` /
  `Azure OpenAI Service`, or an AI and Machine Learning row whose meter subcategory
  (`x_SkuMeterSubcategory`) or meter says OpenAI (older exports name the service Cognitive
  Services).
"""

from ingestion.json_sql import sql_str

# The costline provider names are the OpenTelemetry ones telemetry sends (gen_ai.provider.name).
BEDROCK = "aws.bedrock"
VERTEX = "gcp.vertex_ai"
AZURE_OPENAI = "azure.ai.openai"
CLOUD_PROVIDERS = (BEDROCK, VERTEX, AZURE_OPENAI)

BEDROCK_MARKETPLACE_SUFFIX = "(amazon bedrock edition)"
VERTEX_SERVICES = ("vertex ai", "vertex ai api", "gemini api", "generative language api")
AZURE_OPENAI_SERVICES = ("azure openai", "azure openai service")


def _in(expr: str, values: tuple[str, ...]) -> str:
    return f"{expr} in ({', '.join(sql_str(v) for v in values)})"


def provider_sql() -> str:
    """The costline provider of a typed FOCUS row (columns of `ingestion/focus/columns.py`),
    NULL for a row that is not LLM model spend."""
    focus_provider = "lower(coalesce(focus_provider, ''))"
    service = "lower(coalesce(service_name, ''))"
    code = "lower(coalesce(service_code, ''))"
    category = "lower(coalesce(service_category, ''))"
    meter = "lower(coalesce(sku_meter_subcategory, '') || ' ' || coalesce(sku_meter, ''))"
    return f"""case
        when ({focus_provider} in ('aws', 'amazon web services') or starts_with({focus_provider}, 'aws'))
             and ({service} = 'amazon bedrock' or starts_with({code}, 'amazonbedrock')
                  or ends_with({service}, {sql_str(BEDROCK_MARKETPLACE_SUFFIX)}))
            then {sql_str(BEDROCK)}
        when (starts_with({focus_provider}, 'google'))
             and {_in(service, VERTEX_SERVICES)}
            then {sql_str(VERTEX)}
        when (starts_with({focus_provider}, 'microsoft') or starts_with({focus_provider}, 'azure'))
             and ({_in(service, AZURE_OPENAI_SERVICES)}
                  or (contains({meter}, 'openai') and {category} in ('', 'ai and machine learning')))
            then {sql_str(AZURE_OPENAI)}
    end"""
