# Extract the parametrized PII cases of Microsoft Presidio's recognizer tests as JSON Lines.
import ast, json, subprocess, sys
REPO = '/work/.mirror/microsoft+presidio/repo'
COMMIT = subprocess.check_output(['git', '-C', REPO, 'rev-parse', 'HEAD'], text=True).strip()
FILES = {
    'test_phone_recognizer.py': 'PHONE',
    'test_email_recognizer.py': 'EMAIL',
    'test_us_ssn_recognizer.py': 'US_SSN',
    'test_credit_card_recognizer.py': 'CREDIT_CARD',
    'test_iban_recognizer.py': 'IBAN',
    'test_ip_recognizer.py': 'IP_ADDRESS',
}
out = []
for f, typ in FILES.items():
    path = f'presidio-analyzer/tests/{f}'
    src = subprocess.check_output(['git', '-C', REPO, 'show', f'{COMMIT}:{path}'], text=True)
    tree = ast.parse(src)
    for fn in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
        for dec in fn.decorator_list:
            if not (isinstance(dec, ast.Call) and getattr(dec.func, 'attr', '') == 'parametrize'): continue
            names = [x.strip() for x in ast.literal_eval(dec.args[0]).split(',')]
            text_key = 'text' if 'text' in names else ('iban' if 'iban' in names else None)
            if text_key is None or 'expected_len' not in names: continue
            if 'leniency' in names: continue  # runs of one library option, not ground truth
            try:
                rows = ast.literal_eval(dec.args[1])
            except Exception:
                continue
            pos_key = next((k for k in ('expected_positions', 'expected_res') if k in names), None)
            for row in rows:
                r = dict(zip(names, row))
                text = r[text_key]
                n = r['expected_len']
                spans = [list(p) for p in (r.get(pos_key) or ())] if pos_key else []
                scores = r.get('expected_score_ranges') or ()
                # Presidio marks some matches as very weak (score range ending below 0.5): those are
                # not claims that the text holds the value, so the case is kept out.
                if any(isinstance(s, tuple) and s[1] != 'max' and s[1] < 0.5 for s in scores): continue
                if n > 0 and len(spans) != n:
                    if n == 1 and not spans: spans = [[0, len(text)]]  # whole-text cases written without positions
                    else: continue
                out.append({'source': f'presidio:{path}#{fn.name}', 'type': typ, 'text': text, 'spans': spans})
for o in out: print(json.dumps(o, ensure_ascii=False))
print(f'{len(out)} cases, commit {COMMIT}', file=sys.stderr)
