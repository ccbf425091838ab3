# The study in a container, for Windows (Docker Desktop) or any machine without Python 3.11 and make:
#   docker build -t anatomy-study .        (the venv: torch from PyTorch's CPU index, the rest hashed from the lock)
#   docker run --rm anatomy-study          (make test: the README's test command)
#   docker run --rm -it -p 8888:8888 anatomy-study make lab LAB_IP=0.0.0.0   (JupyterLab: the URL it prints)
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends make git && rm -rf /var/lib/apt/lists/*
WORKDIR /study
COPY . .
RUN make .venv/.stamp data/wheels/.stamp
CMD ["make", "test"]
