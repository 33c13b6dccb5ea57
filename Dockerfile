# The worker, codec server and CLI image (docker-compose.yml builds it). Python 3.11, exactly uv.lock.
FROM python:3.11-slim-bookworm
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir uv==0.13.9
COPY pyproject.toml uv.lock ./
# Runtime dependencies only; dlib and opencv-python are replaced through tool.uv.override-dependencies.
RUN UV_PROJECT_ENVIRONMENT=/usr/local uv sync --frozen --no-dev --no-cache
COPY . .
ENV SELLER_ENV=production SELLER_DATA_DIR=/data
CMD ["python", "worker.py"]
