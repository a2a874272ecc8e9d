"""cnnviz: the library behind the visual CNN explainer (torch, numpy and PIL only; never Streamlit)."""
