"""policyqa: the Streamlit entry point. It only routes to the pages in ``app/``; they are thin shells over the
``assistant`` and ``ingest`` libraries."""

from __future__ import annotations

import streamlit as st

from app.common import ICON

st.set_page_config(page_title="policyqa", page_icon=str(ICON), layout="wide")

PAGES = [
    st.Page("app/chat.py", title="Chat", icon=":material/chat:", url_path="chat", default=True),
    st.Page("app/documents.py", title="Documents", icon=":material/description:", url_path="documents"),
    st.Page("app/deals.py", title="Deals", icon=":material/handshake:", url_path="deals"),
    st.Page("app/evaluation.py", title="Evaluation", icon=":material/checklist:", url_path="evaluation"),
]

st.navigation(PAGES).run()
