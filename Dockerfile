# OrleansLm images: the silo (target `silo`, the default) and the `olm` client (target `client`).
#   docker build -t orleanslm/silo:0.1.0 --target silo .
#   docker build -t orleanslm/client:0.1.0 --target client .
#   docker build -t orleanslm/silo:0.1.0-cuda --target silo --build-arg TORCH=cuda .
# TORCH picks the libtorch the native shim is built against and ships with: `cpu` is Debian 12's libtorch 1.13 (what
# the tests run against), `cuda` is PyTorch's CUDA build of libtorch (LIBTORCH_URL). Only the stages the target needs
# are built (BuildKit), so a CPU image never downloads the CUDA one.
#
# Every stage that runs something is Debian 12: its libtorch packages are the ones the shim is developed against. The
# .NET 10 images are not Debian 12 based, so .NET comes from them as files. Tags are pinned to the SDK and runtime
# the tests use.
ARG TORCH=cpu
ARG DEBIAN=debian:12.11-slim
ARG DOTNET_SDK=mcr.microsoft.com/dotnet/sdk:10.0.401
ARG DOTNET_RUNTIME=mcr.microsoft.com/dotnet/aspnet:10.0.12

FROM ${DOTNET_SDK} AS dotnet-sdk
FROM ${DOTNET_RUNTIME} AS dotnet-runtime

# ---------------------------------------------------------------------------------------------------------------------
# Build: the .NET SDK with CMake and g++ for the native shim (model/native), which `dotnet publish` builds.
FROM ${DEBIAN} AS sdk
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libicu72 libssl3 cmake make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY --from=dotnet-sdk /usr/share/dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

FROM sdk AS libtorch-dev-cpu
RUN apt-get update \
 && apt-get install -y --no-install-recommends libtorch-dev \
 && rm -rf /var/lib/apt/lists/*
# Empty: CMake finds Debian's libtorch on its own.
ENV TORCH_CMAKE_PREFIX=""

FROM sdk AS libtorch-dev-cuda
# 1.13.1 is the libtorch release the shim is built and tested against (Debian's). Its CUDA 11.7 build targets GPUs up to
# compute capability 8.6 (V100, A100, A10, RTX 30xx); newer ones (H100) need a libtorch for CUDA >= 11.8 through
# LIBTORCH_URL, which the shim has not been tested with.
ARG LIBTORCH_URL=https://download.pytorch.org/libtorch/cu117/libtorch-cxx11-abi-shared-with-deps-1.13.1%2Bcu117.zip
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl unzip \
 && rm -rf /var/lib/apt/lists/* \
 && curl -fsSL "$LIBTORCH_URL" -o /tmp/libtorch.zip \
 && unzip -q /tmp/libtorch.zip -d /opt \
 && rm /tmp/libtorch.zip
ENV TORCH_CMAKE_PREFIX=/opt/libtorch

FROM libtorch-dev-${TORCH} AS build
WORKDIR /src
# Restore from the project files alone, so that a source change does not download the packages again.
COPY Directory.Build.props Directory.Packages.props ./
COPY protos/OrleansLm.Protos.csproj protos/
COPY model/OrleansLm.Model.csproj model/
COPY silo/OrleansLm.Silo.csproj silo/
COPY silo/Runtime/OrleansLm.Runtime.csproj silo/Runtime/
COPY client/OrleansLm.Client/OrleansLm.Client.csproj client/OrleansLm.Client/
COPY client/OrleansLm.Cli/OrleansLm.Cli.csproj client/OrleansLm.Cli/
RUN dotnet restore silo/OrleansLm.Silo.csproj \
 && dotnet restore client/OrleansLm.Cli/OrleansLm.Cli.csproj
COPY protos/ protos/
COPY model/ model/
COPY silo/ silo/
COPY client/ client/
RUN dotnet publish silo/OrleansLm.Silo.csproj -c Release --no-restore -p:TorchCMakePrefix="$TORCH_CMAKE_PREFIX" -o /out/silo \
 && dotnet publish client/OrleansLm.Cli/OrleansLm.Cli.csproj -c Release --no-restore -p:TorchCMakePrefix="$TORCH_CMAKE_PREFIX" -o /out/olm

# ---------------------------------------------------------------------------------------------------------------------
# Runtime: libtorch, the ASP.NET Core runtime, olm, and the user everything runs as.
FROM ${DEBIAN} AS base
# fortunes-min: the corpus of the built-in run (`olm run start` without --config), which the silos read.
# No ICU: the projects are built with InvariantGlobalization.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 tzdata fortunes-min \
 && rm -rf /var/lib/apt/lists/*
# A fixed uid, so that volumes and a Kubernetes securityContext can name it. /var/lib/orleanslm is created here, owned
# by it, because a new named volume mounted there takes this directory's owner.
RUN groupadd --gid 10001 olm \
 && useradd --uid 10001 --gid olm --create-home --shell /usr/sbin/nologin olm \
 && install -d -o olm -g olm /var/lib/orleanslm

FROM base AS libtorch-cpu
# OpenBLAS beside libtorch: with the reference BLAS that libtorch1.13's dependency pulls in by default, matmuls are
# about 30x slower. The check fails the build if libblas.so.3 does not end up resolving to OpenBLAS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0-pthread libtorch1.13 \
 && rm -rf /var/lib/apt/lists/* \
 && blas=$(readlink -f "/usr/lib/$(uname -m)-linux-gnu/libblas.so.3") \
 && case "$blas" in *openblas*) ;; *) echo "libblas.so.3 resolves to $blas, not OpenBLAS" >&2; exit 1 ;; esac

FROM base AS libtorch-cuda
# Same path as in the build stage: libolmtorch.so finds libtorch through the RPATH it was linked with.
COPY --from=libtorch-dev-cuda /opt/libtorch/lib /opt/libtorch/lib
# Without "compute" the NVIDIA container runtime mounts no libcuda into the container (its default is utility only).
ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility

FROM libtorch-${TORCH} AS runtime
COPY --from=dotnet-runtime /usr/share/dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet
COPY --from=build /out/olm /opt/olm
RUN ln -s /opt/olm/olm /usr/local/bin/olm
# The apphosts (olm, OrleansLm.Silo) look for the runtime here.
ENV DOTNET_ROOT=/usr/share/dotnet

# ---------------------------------------------------------------------------------------------------------------------
# The client: `docker run --rm orleanslm/client:0.1.0 run status --gateway http://HOST:5081 --token ...`.
FROM runtime AS client
USER olm
WORKDIR /home/olm
ENTRYPOINT ["/opt/olm/olm"]
CMD ["--help"]

# The silo, last so that it is the default target. Ports: HTTP (/healthz, /metrics, the live page), the gRPC gateway
# (h2c) and the grain transport between silos. Checkpoints and exported models go to /var/lib/orleanslm: mount there a
# volume all silos share. Give `docker stop` more time than Silo:ShutdownSeconds (30): its default of 10 s kills the
# silo before its runs hand off.
FROM runtime AS silo
COPY --from=build /out/silo /app
COPY deploy/silo-entrypoint.sh /usr/local/bin/olm-silo
ENV OLM_Urls=http://0.0.0.0:5080 \
    OLM_Gateway__Listen=http://0.0.0.0:5081 \
    OLM_Cluster__Listen=0.0.0.0:11111 \
    OLM_Cluster__CheckpointRoot=/var/lib/orleanslm/checkpoints \
    OLM_Gateway__ModelDirectory=/var/lib/orleanslm/models
EXPOSE 5080 5081 11111
USER olm
# The silo reads appsettings.json from its working directory.
WORKDIR /app
# olm health exits 0 only while the silo answers and reports SERVING (its libtorch loads); no curl in the image.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/opt/olm/olm", "health", "--url", "http://127.0.0.1:5080/", "--timeout", "4"]
ENTRYPOINT ["/usr/local/bin/olm-silo"]
