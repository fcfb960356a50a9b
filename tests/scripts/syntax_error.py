x = 1
print("a"
y = 2
