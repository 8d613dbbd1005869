# mnigs on Debian 12: a build stage compiles and installs the tree, a runtime
# stage holds mnigsd, mnigs-cli, the plugins, the web UI, the default config
# and the Debian packages they need. scripts/docker-test.sh builds and checks it.
FROM debian:12 AS build
WORKDIR /src
# The build packages first, in their own layer: a change to the code does not
# download them again.
COPY scripts/deps.sh scripts/deps.sh
RUN bash -c 'source scripts/deps.sh && install_deps build'
COPY . .
# Installed stripped: the debug information would double the image.
# The runtime packages are derived from what was built (ldd on every ELF file
# installed, plugins included, and the package owning each library), so the
# list cannot fall behind the code; a library that no package provides fails
# the build here.
RUN bash -c 'source scripts/deps.sh \
 && build_tree /build -DMNIGS_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX=/usr \
 && DESTDIR=/out cmake --install /build --strip >/dev/null \
 && mkdir /manifest \
 && runtime_library_packages /out >/manifest/packages \
 && elf_files /out | sed "s|^/out||" >/manifest/elf-files \
 && echo "runtime libraries from: $(tr "\n" " " </manifest/packages)"'

FROM debian:12
COPY scripts/deps.sh /tmp/mnigs/deps.sh
COPY --from=build /manifest/packages /tmp/mnigs/packages
# openvpn: the openvpn tunnel plugin runs it (the .deb recommends it).
RUN bash -c 'source /tmp/mnigs/deps.sh && install_deps runtime $(cat /tmp/mnigs/packages) openvpn' \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /
COPY --from=build /manifest/elf-files /tmp/mnigs/elf-files
# Fails the build if an installed binary or plugin misses a library, or a
# command mnigsd runs (ip, nft, sysctl, sh) is absent.
RUN bash -c 'source /tmp/mnigs/deps.sh && check_runtime /tmp/mnigs/elf-files' \
 && rm -rf /tmp/mnigs
# JSON-RPC, web UI and websocket tunnels; the DHT.
EXPOSE 65533/tcp 65531/udp
ENTRYPOINT ["/usr/sbin/mnigsd", "-f", "/etc/mnigs/mnigs.yaml"]
