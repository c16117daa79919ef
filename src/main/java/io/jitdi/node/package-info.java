/**
 * Wiring jitdi into a node: the containerd registry host files that make containerd pull through it. Depends on
 * nothing else in jitdi.
 */
package io.jitdi.node;
