package io.jitdi.jit;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A nondeterministic automaton over ASCII with epsilon moves and character-set edges (Thompson construction). Names
 * and tags are ASCII, so sets are {@code BitSet}s of 128 bits. Used to test matches in linear time and to decide
 * whether two patterns can match the same string.
 */
final class Nfa {
  static final int ALPHABET = 128;

  private final List<List<int[]>> epsilon = new ArrayList<>();
  private final List<List<Object[]>> moves = new ArrayList<>();
  int start;
  int accept;

  int newState() {
    epsilon.add(new ArrayList<>());
    moves.add(new ArrayList<>());
    return epsilon.size() - 1;
  }

  void epsilon(int from, int to) {
    epsilon.get(from).add(new int[] {to});
  }

  void move(int from, BitSet set, int to) {
    moves.get(from).add(new Object[] {set, to});
  }

  int size() {
    return epsilon.size();
  }

  /** A fragment: entry and exit states. */
  record Fragment(int in, int out) {}

  Fragment set(BitSet set) {
    int in = newState();
    int out = newState();
    move(in, set, out);
    return new Fragment(in, out);
  }

  Fragment empty() {
    int s = newState();
    return new Fragment(s, s);
  }

  Fragment concat(Fragment a, Fragment b) {
    epsilon(a.out, b.in);
    return new Fragment(a.in, b.out);
  }

  Fragment alt(List<Fragment> options) {
    int in = newState();
    int out = newState();
    for (Fragment f : options) {
      epsilon(in, f.in);
      epsilon(f.out, out);
    }
    return new Fragment(in, out);
  }

  /** Zero or more; {@code body} is used once. */
  Fragment star(Fragment body) {
    int in = newState();
    int out = newState();
    epsilon(in, body.in);
    epsilon(in, out);
    epsilon(body.out, body.in);
    epsilon(body.out, out);
    return new Fragment(in, out);
  }

  Fragment optional(Fragment body) {
    int in = newState();
    int out = newState();
    epsilon(in, body.in);
    epsilon(in, out);
    epsilon(body.out, out);
    return new Fragment(in, out);
  }

  private BitSet closure(BitSet states) {
    BitSet result = (BitSet) states.clone();
    ArrayDeque<Integer> work = new ArrayDeque<>();
    states.stream().forEach(work::push);
    while (!work.isEmpty()) {
      int s = work.pop();
      for (int[] e : epsilon.get(s)) {
        if (!result.get(e[0])) {
          result.set(e[0]);
          work.push(e[0]);
        }
      }
    }
    return result;
  }

  /** Whether the whole of {@code text} is accepted; linear in its length. */
  boolean matches(String text) {
    BitSet current = new BitSet();
    current.set(start);
    current = closure(current);
    for (int i = 0; i < text.length() && !current.isEmpty(); i++) {
      char c = text.charAt(i);
      if (c >= ALPHABET) {
        return false;
      }
      BitSet next = new BitSet();
      for (int s = current.nextSetBit(0); s >= 0; s = current.nextSetBit(s + 1)) {
        for (Object[] m : moves.get(s)) {
          if (((BitSet) m[0]).get(c)) {
            next.set((Integer) m[1]);
          }
        }
      }
      current = closure(next);
    }
    return current.get(accept);
  }

  /**
   * A shortest string accepted by all of {@code automata}, if there is one (a breadth-first search of their product).
   */
  static Optional<String> intersection(List<Nfa> automata) {
    int n = automata.size();
    Map<List<Integer>, List<Integer>> parent = new HashMap<>();
    Map<List<Integer>, Character> via = new HashMap<>();
    List<Integer> first = new ArrayList<>();
    for (Nfa a : automata) {
      first.add(a.start);
    }
    ArrayDeque<List<Integer>> queue = new ArrayDeque<>();
    queue.add(first);
    parent.put(first, null);
    int visited = 0;
    while (!queue.isEmpty()) {
      if (++visited > 2_000_000) {
        throw new IllegalStateException("the patterns are too large to compare");
      }
      List<Integer> state = queue.poll();
      boolean accepting = true;
      for (int i = 0; i < n; i++) {
        accepting &= state.get(i) == automata.get(i).accept;
      }
      if (accepting) {
        StringBuilder witness = new StringBuilder();
        for (List<Integer> s = state; parent.get(s) != null; s = parent.get(s)) {
          Character c = via.get(s);
          if (c != null) {
            witness.append(c);
          }
        }
        return Optional.of(witness.reverse().toString());
      }
      for (int i = 0; i < n; i++) {
        for (int[] e : automata.get(i).epsilon.get(state.get(i))) {
          List<Integer> next = new ArrayList<>(state);
          next.set(i, e[0]);
          if (!parent.containsKey(next)) {
            parent.put(next, state);
            queue.add(next);
          }
        }
      }
      product(automata, state, 0, fullSet(), new ArrayList<>(), (next, chars) -> {
        if (!parent.containsKey(next)) {
          parent.put(next, state);
          via.put(next, (char) chars.nextSetBit(0));
          queue.add(next);
        }
      });
    }
    return Optional.empty();
  }

  private interface Step {
    void accept(List<Integer> next, BitSet chars);
  }

  private static void product(List<Nfa> automata, List<Integer> state, int i, BitSet chars, List<Integer> targets,
      Step step) {
    if (i == automata.size()) {
      step.accept(new ArrayList<>(targets), chars);
      return;
    }
    for (Object[] m : automata.get(i).moves.get(state.get(i))) {
      BitSet both = (BitSet) chars.clone();
      both.and((BitSet) m[0]);
      if (!both.isEmpty()) {
        targets.add((Integer) m[1]);
        product(automata, state, i + 1, both, targets, step);
        targets.remove(targets.size() - 1);
      }
    }
  }

  static BitSet fullSet() {
    BitSet all = new BitSet(ALPHABET);
    all.set(0, ALPHABET);
    return all;
  }

  static BitSet chars(String chars) {
    BitSet set = new BitSet(ALPHABET);
    chars.chars().forEach(set::set);
    return set;
  }

  static BitSet range(char from, char to) {
    BitSet set = new BitSet(ALPHABET);
    set.set(from, to + 1);
    return set;
  }
}
