/**
 * A number field that commits on blur or Enter (not on every keystroke, which would run a query
 * per digit). Empty means "use the metric's default".
 */
import { Input } from '@grafana/ui';
import React, { useEffect, useState } from 'react';

export interface NumberInputProps {
  value?: number;
  onCommit: (value: number | undefined) => void;
  testId: string;
  id?: string;
  width?: number;
  placeholder?: string;
  min?: number;
  max?: number;
  step?: number;
  invalid?: boolean;
  suffix?: string;
}

export function NumberInput({
  value,
  onCommit,
  testId,
  id,
  width = 12,
  placeholder,
  min,
  max,
  step,
  invalid,
  suffix,
}: NumberInputProps) {
  const [text, setText] = useState(value === undefined ? '' : String(value));
  useEffect(() => setText(value === undefined ? '' : String(value)), [value]);

  const commit = () => {
    const trimmed = text.trim();
    const next = trimmed === '' ? undefined : Number(trimmed);
    if (next !== undefined && !Number.isFinite(next)) {
      setText(value === undefined ? '' : String(value));
      return;
    }
    if (next !== value) {
      onCommit(next);
    }
  };

  return (
    <Input
      id={id}
      data-testid={testId}
      type="number"
      width={width}
      value={text}
      min={min}
      max={max}
      step={step}
      placeholder={placeholder}
      invalid={invalid}
      suffix={suffix}
      onChange={(e) => setText(e.currentTarget.value)}
      onBlur={commit}
      onKeyDown={(e) => {
        if (e.key === 'Enter') {
          commit();
        }
      }}
    />
  );
}
