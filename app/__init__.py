"""The Streamlit pages of policyqa, one module per page, over the ``assistant`` and ``ingest`` libraries."""
