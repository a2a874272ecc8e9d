# cnnviz in a container, for Hugging Face Spaces (Docker SDK) or any host without a GPU.
#   docker build -t cnnviz . && docker run -p 7860:7860 cnnviz     # then open http://localhost:7860
# It installs the CPU-only PyTorch wheels from the PyTorch CPU index (about 0.2 GB instead of the
# multi-GB CUDA build from PyPI); on a host with a GPU, drop --index-url to get the CUDA build.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/home/user \
    CNNVIZ_CACHE_DIR=/home/user/cache \
    CNNVIZ_DATA_DIR=/home/user/cache/data \
    CNNVIZ_MAX_EPOCHS=3 \
    CNNVIZ_MAX_TRAIN_IMAGES=10000 \
    CNNVIZ_MAX_TEST_IMAGES=2000 \
    CNNVIZ_MAX_CONCURRENT_RUNS=1 \
    PORT=7860

# Hugging Face Spaces run the container as user 1000 and expect the app on port 7860.
RUN useradd --create-home --uid 1000 user
WORKDIR /home/user/app

COPY requirements.txt .
# PyTorch first, CPU-only; then the app's other pins (test-only tools left out).
RUN pip install --index-url https://download.pytorch.org/whl/cpu \
        "$(grep '^torch==' requirements.txt)" "$(grep '^torchvision==' requirements.txt)" \
 && grep -vE '^(torch|torchvision|pytest|hypothesis|playwright)==' requirements.txt > /tmp/requirements-app.txt \
 && pip install -r /tmp/requirements-app.txt

COPY --chown=user . .
RUN pip install --no-deps --no-build-isolation -e . && mkdir -p /home/user/cache/runs && chown -R user /home/user/cache
USER user
EXPOSE 7860
# --server.address 0.0.0.0: reachable from outside the container; the rest comes from .streamlit/config.toml.
CMD ["sh", "-c", "exec python -m streamlit run app/main.py --server.port ${PORT} --server.address 0.0.0.0"]
