# The worker, codec server and CLI image (docker-compose.yml builds it). Python 3.11, pinned packages.
FROM python:3.11-slim-bookworm
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt requirements-face.txt ./
RUN pip install --no-cache-dir -r requirements.txt \
 && pip install --no-cache-dir --no-deps -r requirements-face.txt
COPY . .
ENV SELLER_ENV=production SELLER_DATA_DIR=/data
CMD ["python", "worker.py"]
