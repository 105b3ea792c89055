{#-
  The gateway team each workspace's calls go through, from workspaces.csv rows whose provider
  names a gateway (`litellm`: project_id is the LiteLLM team id). Enforcement blocks and
  unblocks these teams. A team id mapped twice goes to the first workspace by name, as
  unattributed bills do (int_input_issues_collected reports the double mapping).
-#}
select
    cast(provider as {{ dbt.type_string() }}) as gateway,
    cast(project_id as {{ dbt.type_string() }}) as team_id,
    cast(min(workspace) as {{ dbt.type_string() }}) as workspace
from {{ ref('stg_config__workspaces') }}
where provider in ('litellm')
group by provider, project_id
