# The one image every Baoxue process runs from: `baoxue run <service> <role>`.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY services ./services
RUN pip install --no-cache-dir . && useradd --system baoxue
USER baoxue
ENTRYPOINT ["baoxue"]
