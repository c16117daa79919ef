/**
 * The validated values of the OCI wire: digests, repository names, tags, references, media types, manifests (kept
 * as their exact bytes) and the OCI error ({@code RegistryException}: code and HTTP status). Every value validates on
 * construction, so code that holds one never checks it again.
 *
 * <p>May import: nothing of jitdi.
 */
package io.jitdi.oci;
