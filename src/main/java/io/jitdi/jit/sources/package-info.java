/**
 * Where model files come from: local and NFS paths, HTTP, Hugging Face, Ollama and OCI model artifacts. Blocking
 * code, run on the IO pool, behind the {@code Source} and {@code ArtifactRegistry} interfaces.
 *
 * <p>May import: {@code io.jitdi.http}, {@code io.jitdi.oci}, {@code io.jitdi.stream}.
 */
package io.jitdi.jit.sources;
