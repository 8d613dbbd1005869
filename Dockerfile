# mnigs on Debian 12: builds the tree and runs mnigsd on the default config.
FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN bash -c 'source scripts/deps.sh && install_deps build' \
 && cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMNIGS_BUILD_TESTS=OFF \
    -DCMAKE_INSTALL_PREFIX=/usr \
 && cmake --build /build -j"$(nproc)" \
 && DESTDIR=/out cmake --install /build

FROM debian:12
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libsqlite3-0 libcpp-httplib0.11 \
    libjsoncpp25 libyaml-cpp0.7 libnl-3-200 libnl-route-3-200 libnl-genl-3-200 \
    iproute2 nftables \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /
EXPOSE 65533
ENTRYPOINT ["/usr/sbin/mnigsd", "-f", "/etc/mnigs/mnigs.yaml"]
