# incentive-engine: one image for the API, the projection worker and the CLI.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY incentive_engine ./incentive_engine
COPY plans ./plans
COPY projections ./projections
COPY api ./api
RUN pip install --no-cache-dir .
ENTRYPOINT ["incentive-engine"]
CMD ["--help"]
