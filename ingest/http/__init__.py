"""The HTTP shapes of Trophy's API: request parsing and validation (`requests`), the answers
(`api*`, `render`, `wrapped`) and `ApiError`. Used by the gateway (`ingest/`) only."""
