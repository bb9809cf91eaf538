import type { StoredEvent } from '../model/events.ts';
import type { Profile } from '../model/profile.ts';
import { type ConditionDependencies, compile, dependencies, type Predicate } from '../rules/index.ts';
import type { FactContext } from '../rules/types.ts';
import { holds } from './membership.ts';
import type { TagRuleDefinition } from './tag-rule.ts';

export interface CompiledTagRule {
  id: string;
  version: number;
  priority: number;
  add: boolean;
  tags: readonly string[];
  predicate: Predicate;
  reads: ConditionDependencies;
}

export function compileTagRule(def: TagRuleDefinition): CompiledTagRule {
  return {
    id: def.id,
    version: def.version,
    priority: def.priority ?? 1,
    add: def.event.type === 'add_tags',
    tags: def.event.params.tags,
    predicate: compile(def.conditions),
    reads: dependencies(def.conditions),
  };
}

/**
 * Runs the tag rules an event can fire, in priority order, each seeing the tags the ones before it
 * set; returns `tag_added` / `tag_removed` for each tag that actually changed. Sticky: a tag stays
 * until a rule removes it.
 */
export function applyTagRules(
  profile: Profile,
  rules: readonly CompiledTagRule[],
  cause: StoredEvent,
  now: number,
  context: () => FactContext,
): StoredEvent[] {
  const raised: StoredEvent[] = [];
  for (const rule of rules) {
    if (!holds(rule.predicate, context())) continue;
    for (const tag of rule.tags) {
      const has = profile.tags.includes(tag);
      if (rule.add === has) continue;
      profile.tags = rule.add ? [...profile.tags, tag].sort() : profile.tags.filter((t) => t !== tag);
      const name = rule.add ? 'tag_added' : 'tag_removed';
      raised.push({
        messageId: `${name}:${tag}:${rule.id}:${cause.messageId}`,
        type: 'internal',
        event: name,
        properties: { tag, ruleId: rule.id, version: rule.version, cause: cause.messageId },
        timestamp: cause.timestamp,
        receivedAt: now,
      });
    }
  }
  return raised;
}
