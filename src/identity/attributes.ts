import { z } from 'zod';

/** Data classifications a principal may be cleared for (the classification scale of the policy module). */
export const CLEARANCES = ['public', 'internal', 'confidential', 'pii', 'phi', 'pci'] as const;

/** One data classification. */
export type Clearance = (typeof CLEARANCES)[number];

/**
 * Principal attributes for attribute-based policy. A closed set: an attribute no policy reads
 * would only give a false sense of control.
 */
export const principalAttributesSchema = z.strictObject({
  /** Owning team, e.g. `credit-risk`. */
  team: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be a lower-case slug (a-z, 0-9, ".", "_", "-"), at most 64 characters')
    .optional(),
  /** Classifications of data the principal is cleared for; not ordered (PHI does not imply PCI). */
  clearance: z
    .array(z.enum(CLEARANCES))
    .max(CLEARANCES.length)
    .transform((c) => [...new Set(c)].sort())
    .optional(),
  /** Residency region the principal works from, e.g. `eu-west`. */
  region: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'must be a lower-case region id (a-z, 0-9, "-"), at most 32 characters')
    .optional(),
});

/** Validated principal attributes. */
export type PrincipalAttributes = z.output<typeof principalAttributesSchema>;
