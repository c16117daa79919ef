package io.jitdi.config;

import java.nio.file.Path;

/**
 * {@code server.tls}: serve the registry API over HTTPS (HTTP/1.1 and HTTP/2 by ALPN).
 *
 * @param cert PEM certificate chain
 * @param key PEM private key (PKCS#8 or PKCS#1)
 */
public record TlsConfig(Path cert, Path key) {}
