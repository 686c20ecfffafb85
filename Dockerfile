# The one image every Baoxue process runs from: `baoxue run <service> <role>`. Every package the console scripts
# import is copied (tests/architecture/test_image_entry_points.py imports them from a copy of just these files).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY services ./services
COPY simulator ./simulator
COPY devstack ./devstack
COPY bench ./bench
RUN pip install --no-cache-dir . && useradd --system --uid 10001 --no-create-home baoxue
USER 10001
ENTRYPOINT ["baoxue"]
