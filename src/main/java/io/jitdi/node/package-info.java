/**
 * Wiring jitdi into a node: the containerd registry host files that make containerd pull through it.
 *
 * <p>May import: nothing of jitdi.
 */
package io.jitdi.node;
