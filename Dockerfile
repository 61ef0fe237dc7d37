# The service in a container, for Cloud Run (`gcloud run deploy --source .` builds this file)
# or any other host: what App Engine runs from app.yaml, from the same hashed lock, started by
# the same command (tests/test_container.py keeps the two the same). docs/deploy.md: how.
FROM python:3.11-slim-bookworm

# MALLOC_MMAP_THRESHOLD_: as in app.yaml, the large blocks a sync frees go back to the kernel
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8080 \
    MALLOC_MMAP_THRESHOLD_=131072

WORKDIR /app
# Alone first, so that a change to the code does not install every dependency again.
COPY requirements.txt ./
# --require-hashes: every file must be the one locked, so a release replaced on the index,
# or a dependency that crept in unpinned, fails the build instead of shipping.
RUN pip install --require-hashes -r requirements.txt
COPY gunicorn.conf.py ./
COPY sheet_templates/ sheet_templates/
COPY src/ src/

# The code and the dependencies stay root's: the service cannot rewrite them.
USER nobody
# bash -c, as App Engine runs app.yaml's entrypoint: it expands $PORT, then bash replaces
# itself with gunicorn (one simple command), so gunicorn is process 1 and gets Cloud Run's
# SIGTERM. /bin/sh (dash) would stay in between and swallow it.
CMD ["/bin/bash", "-c", "gunicorn -c gunicorn.conf.py --bind :$PORT --workers 2 --threads 8 --worker-class gthread --reuse-port --pythonpath src 'sheetcrm.service.web:create_app()'"]
